benchmarks/profile_launch.py samples every thread of nova-all with py-spy through a large launch and prints the call sites that took the most samples.
