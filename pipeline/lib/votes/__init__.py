"""People's votes: the deployed game's answers, checked, stored and counted.

`ballot` reads one request body (the only place a vote's fields are trusted or not),
`store` checks the pair against the published ones and writes the row, `limits` keeps a
flood from one browser out, `app` is the small ASGI service behind nginx at /api/votes, and
`tally` turns a day's rows into the figures the `human_votes` asset and the gallery show.
"""
