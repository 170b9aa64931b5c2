/* Interposed allocation functions (work in progress). */
#include "agent.h"
