//! API discovery: legacy (`/api`, `/apis`, `/apis/G/V`) and aggregated v2.
