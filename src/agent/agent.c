/* Agent lifecycle (work in progress). */
#include "agent.h"
int lk_agent_placeholder;
