"""Zero-shot NAS: the search space, the proxies, the proxy benchmark and the evolutionary search."""
