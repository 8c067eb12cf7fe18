"""Release: evidence -> a judged decision -> the registry, the model card, and the end-of-run summary."""
