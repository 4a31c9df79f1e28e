"""Fakes at the operating-system boundary: NVML and amdsmi modules, a powercap sysfs tree, a clock."""
