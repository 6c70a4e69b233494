"""The use cases: public reads and admin writes (with their cache keys, tags and renderers), a
user's profile and favourites, admin grants, the audit log, and the request deadline. Nothing
here imports aiohttp.web: the HTTP edge (service.api) parses, calls one of these, and renders."""
