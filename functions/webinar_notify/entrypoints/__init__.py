"""Thin Lambda entry points: decorators, one translation in, one delegating call, one out."""
