"""Tests of nova.scheduler."""
