"""One module per API resource; each has `routes(ctx) -> list[web.RouteDef]`."""
