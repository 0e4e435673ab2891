"""Operations: the health check load balancers poll."""
