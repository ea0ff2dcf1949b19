"""Child processes for the scheduler tests: a stand-in crawl and the service itself."""
