"""What the fixtures configure every test application with."""

SECRET = "test-secret-key"
