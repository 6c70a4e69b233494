"""The HTTP edge: routes, handlers, middlewares, problem+json, OpenAPI. Only this package and
the composition root import aiohttp.web."""
