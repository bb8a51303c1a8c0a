"""The example news site as a Django project (run it with `make demo APP=django`)."""
