"""The Nexmo (Vonage Messages API) gateway: the only code that talks HTTP to Nexmo."""
