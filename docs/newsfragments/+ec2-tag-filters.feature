DescribeTags takes the tag:<key>, tag-key and tag-value filters, and DescribeKeyPairs and DescribeAddresses accept the tag filters (which match nothing: key pairs and addresses have no tags).
