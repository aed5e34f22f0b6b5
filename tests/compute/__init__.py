"""Tests of nova.compute."""
