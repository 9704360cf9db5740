"""Ingest: a request becomes a validated, located report handed to the writer.

``validation`` checks ids, names, fields and sizes; ``address`` resolves the client
address (trusted proxies) and turns it into a country and city; ``intake`` runs one
report from request to acknowledgement (admission, writer, wait for the commit);
``refusals`` counts refused requests for the writer's next commit; ``fastpath``
serves report submissions without Flask; ``routes`` is the ``/track`` blueprint
(reports, forgetting, an instance's own data).
"""
