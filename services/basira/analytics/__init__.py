"""Analytics: model engines (faces, plates, counting) and the workers that run them on frames."""
