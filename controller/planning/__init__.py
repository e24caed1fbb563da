"""Planning: the Backend seam, the offline planner and the pipeline that turns its output into a plan."""
