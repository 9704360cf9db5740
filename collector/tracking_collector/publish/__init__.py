"""Publish: public figures from the store's rollups, under the small-group rule.

``smallgroup`` is the rule; ``stats`` (/api/stats), ``exports``
(data.octoprint.org's files) and ``history`` build documents from rollups;
``own_data`` is one instance's record for that instance; ``publisher`` reads and
caches them; ``routes`` is their blueprint.
"""
