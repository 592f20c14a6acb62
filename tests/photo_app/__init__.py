"""The photo app (examples/photo-app): its image work, its functions and the whole app in a browser."""
