"""View-models: small QObjects that turn client events into what widgets show, and clicks into client calls."""
