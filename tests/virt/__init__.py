"""Tests of nova.virt."""
