"""Load during drills: Locust profiles run headless, split into drill phases."""
