"""Talking to the API: ES512 tokens, the retry policy, and the checkout-sessions client."""
