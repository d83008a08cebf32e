"""ark's command line (``ark``): thin commands over the API models and the cluster client."""
