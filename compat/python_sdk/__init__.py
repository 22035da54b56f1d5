"""MX's official Python SDK (mx-platform-python, pinned in compat/run.sh) against a running Ferry
server: `harness` holds what every scenario shares, one module per scenario group holds its steps,
and `__main__` runs them all (`cd compat && python -m python_sdk`).
"""
