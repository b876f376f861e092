"""Money: the ledger of billed requests and each photo's cap on paid attempts, the price
table, the daily budget, and sending a request that may be billed (`paid`). Every remote
generator bills through here; generators import billing, never the other way round
(pipeline_tests/lib/test_layers.py holds that)."""
