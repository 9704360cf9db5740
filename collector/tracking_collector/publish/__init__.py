"""Publish: public figures from the store's rollups, under the small-group rule.

``smallgroup`` is the rule; ``figures`` reads the rollups of one snapshot and folds
every map once; ``stats`` (/api/stats), ``exports`` (data.octoprint.org's files),
``history``, ``daily`` (one day's figures), ``plugin_page``, ``badge``,
``transparency`` and ``archive`` (closed days as published) are views of them;
``own_data`` is one instance's record for that instance; ``publisher`` reads and
caches them; ``routes`` is their blueprint.
"""
