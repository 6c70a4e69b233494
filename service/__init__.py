"""Hustle Hub directory service."""
