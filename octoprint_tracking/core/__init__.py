"""The pure core: what may be sent and how it is built. Imports nothing from OctoPrint.

``catalog`` declares every report, ``model`` is the report value, ``events`` maps host
events to the ``builders``, ``privacy`` makes values safe, ``consent`` is the gate and
``preview`` shows all of it to the owner. ``policy`` reads the administrator's policy
file, ``address`` says which servers may be used, ``server_view`` labels what a
server says it holds.
"""
