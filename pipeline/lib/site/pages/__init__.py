"""Page models: one plain, JSON-able dict per page, built from the day tables.

One module per page family: `pair` (a pair page), `days` (day, month and front pages),
`stats` (the day summaries kept in the manifest, the stats and about pages), `game_page`
(the "Which is human?" page), and `shared` (the pieces they all use). Import from the module
that defines a name; this package re-exports nothing.

A page is rendered from its model alone, and the model's hash decides whether it is rendered
again (see `publish.SiteWriter.page`). So everything a page shows is in its model and nothing
volatile (like the build time) is, and a page's links are written relative to it (`root`),
so the site works from a folder, `file://`, or any S3 prefix.

Strings from the tables go into the models as they are: the templates escape them. URLs are
checked here (`links.safe_url`), since escaping does not make `javascript:` harmless.
"""
