"""Plumbing that works below or around the framework, each module saying what it buys and gives up."""
