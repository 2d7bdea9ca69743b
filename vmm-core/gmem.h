/* Guest memory layout now lives in common/ (devices map guest RAM too). */
#pragma once
#include "common/gmem.h"
