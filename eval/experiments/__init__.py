"""The paper's experiments: competition (:mod:`.competition`) and the convex hull (:mod:`.hull`);
run ``persuaders-experiment``."""
