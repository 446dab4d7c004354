"""Slow example task: works for 30 s, longer than its timeout, so it is killed."""

import time

print("exporting orders...", flush=True)
for i in range(30):
    time.sleep(1)
    print(f"exported batch {i + 1}/30", flush=True)
print("export finished")
