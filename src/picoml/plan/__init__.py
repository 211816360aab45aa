"""Static memory planning: tensor lifetimes in execution order → offsets in one arena."""

from picoml.plan.planner import Buffer, MemoryPlan, plan_memory

__all__ = ["Buffer", "MemoryPlan", "plan_memory"]
