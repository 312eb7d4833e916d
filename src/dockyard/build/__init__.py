"""Dockerfile parser, build cache and executor; RUN steps go through a step-runner interface."""
