#include "multipart.h"
