"""Trust: which instances count in the public numbers, decided at ingest.

``policy`` holds the knobs and the decision type; ``admission`` judges each report
(new ids per source, plausibility); ``plausibility`` has the rules; ``sources``
hashes networks under daily keys; ``state`` keeps the admission's shared state in
the store (through its writer); ``admin`` shows held cohorts to the operator.
"""
