"""The HTTP edge: routes, handlers, the endpoint wrapper, problem+json, OpenAPI. Only this
package and the composition root import aiohttp.web."""
