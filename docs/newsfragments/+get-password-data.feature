GetPasswordData answers an instance's id, a timestamp and empty password data (Nova's guests are Linux), as EC2 does for Linux instances.
