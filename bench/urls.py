"""URLconf used while the benchmark measures through the harness (see bench/targets.py)."""

from bench.harness import urlconf_with_harness

urlpatterns = urlconf_with_harness("config.urls")
