"""What running the controller as a Deployment needs: health endpoints and leader election."""
