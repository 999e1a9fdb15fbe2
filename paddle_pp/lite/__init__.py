"""Paddle-Lite: .nb export with opt, the C++ demo config, the Lite venv (`paddle-pp lite ...`)."""
