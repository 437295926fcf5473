"""Tests of tidewire.testing (the kit) through its own fixtures."""
