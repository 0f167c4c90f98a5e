"""Local emulators of the destination vendors' APIs, for tests, the demo and benchmarks.

Each is a Starlette app enforcing its vendor's documented rules (auth, required fields,
hash format, batch limits, error bodies, 429 + Retry-After, partial failures) and recording
what it accepted. Imports starlette, sources.emulator_kit and destinations.normalize only.
"""
