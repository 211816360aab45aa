"""Static memory planning: tensor lifetimes in execution order → offsets in one arena."""

from picoml.plan.fusion import FusedBlock, chains, residual_blocks
from picoml.plan.planner import Buffer, MemoryPlan, choose_fusions, plan_memory

__all__ = ["Buffer", "FusedBlock", "MemoryPlan", "chains", "choose_fusions", "plan_memory", "residual_blocks"]
