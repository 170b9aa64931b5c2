/* Internal interface of the agent (libleakscope.so). See agent.c. */
#ifndef LK_AGENT_H
#define LK_AGENT_H
#endif
