"""Use cases: check permissions, call domain and store, talk through the Messenger port."""
